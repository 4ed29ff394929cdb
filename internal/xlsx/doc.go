// Package xlsx reads and writes Excel workbooks (.xlsx) with archive/zip
// and encoding/xml only.
//
// Read is meant for files people upload: it bounds the zip entries, the
// bytes inflated (absolute and by ratio), rows, columns, cells, the
// characters of one cell and the text held in memory, and refuses a
// DOCTYPE, so a small hostile file cannot make it allocate much. Write
// streams text cells sheet by sheet (every cell an inline string, so
// "0012" stays "0012"), with a bold header row that may be filled,
// optional title rows above it, wrapped columns and column widths.
package xlsx
