"""Widgets of the interview: the question card, the outline, the live findings."""
