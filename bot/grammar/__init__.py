"""The `/dms-tasks` grammar: command text -> TaskQuery (parser, windows, words), and the typed
state a button carries (state). Pure: no I/O, the clock is passed in."""
