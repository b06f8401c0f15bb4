"""The guided interview (Textual): a non-expert describes a platform's control loops and
sees, live, where they work against each other. It writes the assessment file the engine
reads and never the other way round: expert/ does not import this package."""
