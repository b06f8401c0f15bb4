"""Control-coherence assessor: finds autonomous control loops that work against each other.

Data flows one way: assessment file -> facts and influence graph -> rule engine (in a child
process) -> findings with provenance -> reports. Nothing in this package imports the UI.
"""

__version__ = "0.1.0"
