"""Stand-in of the ldmx-sw python configuration package (only what config.py uses)."""
