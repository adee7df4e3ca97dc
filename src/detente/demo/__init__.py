"""``detente demo``: a hub, a witness and two member nodes on loopback, playing the founding
scenario of the Blueland-Redland working group."""

from detente.demo.runner import Demo, DemoStep, start_demo

__all__ = ["Demo", "DemoStep", "start_demo"]
