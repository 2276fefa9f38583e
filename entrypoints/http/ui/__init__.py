"""The admin dashboard under `/ui`: server-rendered pages, a little JS, every asset served here."""
