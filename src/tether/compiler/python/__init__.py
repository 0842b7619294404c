"""The Python front end: `@tether.workflow` functions -> IR, with call-site spans."""
