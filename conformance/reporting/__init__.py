"""What a campaign found, shown: text, JSON, merged shards, progress, reproducers."""
