"""The rule engine, contained: patterns compiled to durable-rules rulesets, the safety checks on
what is compiled, and the child process the engine runs in."""
