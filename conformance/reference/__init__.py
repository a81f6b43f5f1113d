"""What the engine is compared with: torch in float64, and the exact mpmath values."""
