"""The field app's server side (issue 15): the bundle a device downloads before going
offline (``prepare``), the exact-once upload of what it recorded offline (``sync``), and
the review queue where conflicts wait for a supervisor (``reviews``). It records nothing
itself: every accepted record goes through the registration and vaccination services."""
