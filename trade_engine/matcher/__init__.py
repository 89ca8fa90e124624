"""Order books: price levels in time priority, and the trigger book for stop orders."""
