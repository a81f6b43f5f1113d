"""vetgrad's differential conformance harness: random expression graphs run in an engine and in
PyTorch, values and gradients judged op by op and end to end. ``python -m conformance --help``."""

from conformance.adapters import Adapter, ValueClassAdapter, load_adapter
from conformance.api import ConformanceError, check_engine, check_graph
from conformance.campaign import run_campaign
from conformance.generate import graphs, random_graph
from conformance.graph import Const, Graph, Node
from conformance.report import Report

__all__ = ["Adapter", "ConformanceError", "Const", "Graph", "Node", "Report", "ValueClassAdapter",
           "check_engine", "check_graph", "graphs", "load_adapter", "random_graph", "run_campaign"]
