package inventory

import "github.com/medisac/medisac/internal/xlsx"

// Cell is one cell of an imported row, from a CSV file or a workbook.
type Cell = xlsx.Cell

// Sheet is one imported sheet: its name and its rows.
type Sheet = xlsx.Sheet
