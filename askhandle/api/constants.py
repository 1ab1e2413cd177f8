# Path patterns: anything else falls through to the JSON 404 of the API's catch-all route, so a
# malformed uuid in a path is a clean 404 and never reaches the database.
UUID_PATH_REGEX = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
LABEL_PATH_REGEX = r"[-a-zA-Z0-9_]+"
