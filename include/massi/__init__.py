"""Massi luminosity archives: the fill database, the folder scanner and change detection."""
