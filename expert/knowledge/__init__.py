"""The knowledge base: vocabulary-based patterns, their conditions and cost models, loop templates,
and the tools that keep it sound (lint, JSON Schema, case tests, scaffolding)."""
