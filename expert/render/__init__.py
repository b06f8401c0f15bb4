"""Rendering: the results and their deliverables as Markdown, HTML, JSON, SARIF and CSV, with the
SVG and Mermaid maps. Rendering never loads a knowledge base."""
