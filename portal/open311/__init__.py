"""Open311 GeoReport v2 (``/open311/v2/``): services are item types, requests are cases."""
