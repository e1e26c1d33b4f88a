"""The release, in one place: recorded in every manifest and shown by the CLI and web page."""

__version__ = "0.1.0"
