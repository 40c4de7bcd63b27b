"""`groundswell web`: the console for service leads and PR teams (Flask, served by waitress)."""
