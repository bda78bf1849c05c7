"""The `/dms-tasks` grammar: command text -> TaskQuery (parser; windows and the points and zones
they are made of; filters; what people paste; suggestions for errors; words), and the typed
state a button carries (state). Pure: no I/O, the clock is passed in."""
