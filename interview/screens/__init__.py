"""Screens of the interview: the questions, the results and the dialogs."""
