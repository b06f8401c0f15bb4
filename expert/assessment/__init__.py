"""The assessment model: what a respondent or an importer describes (loops, resources, economics),
its fields, how typed answers are read, and the limits checked on load."""
