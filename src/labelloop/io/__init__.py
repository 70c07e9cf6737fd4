"""File I/O: read records from data files, check them into items, write exports, hash them."""
