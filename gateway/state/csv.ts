/**
 * A small RFC 4180 CSV reader for spreadsheet exports (the SKU master): comma-separated cells,
 * `"quoted"` cells may hold commas, line breaks and `""` for a quote. Cells are trimmed; blank lines
 * and a leading byte order mark are skipped.
 */

/** One record and the line it starts on (1-based), for error messages. */
export interface CsvRecord {
  line: number
  cells: string[]
}

/**
 * The records of `text`, or the line of an unterminated quote.
 * @example parseCsv('sku,qty\n"A,1",3\n') // { ok: true, records: [{ line: 1, cells: ['sku', 'qty'] }, { line: 2, cells: ['A,1', '3'] }] }
 */
export function parseCsv(text: string): { ok: true; records: CsvRecord[] } | { ok: false; line: number; message: string } {
  const s = text.startsWith('\uFEFF') ? text.slice(1) : text
  const records: CsvRecord[] = []
  let cells: string[] = []
  let cell = ''
  let quoted = false
  let line = 1
  let start = 1
  const endCell = (): void => {
    cells.push(cell.trim())
    cell = ''
  }
  const endRecord = (): void => {
    endCell()
    if (cells.length > 1 || cells[0] !== '') records.push({ line: start, cells })
    cells = []
  }
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') cell += s[++i]
      else if (c === '"') quoted = false
      else {
        if (c === '\n') line++
        cell += c
      }
    } else if (c === '"' && cell.trim() === '') {
      cell = ''
      quoted = true
    } else if (c === ',') endCell()
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++
      endRecord()
      start = ++line
    } else cell += c
  }
  if (quoted) return { ok: false, line: start, message: 'a quoted cell is never closed; end it with "' }
  if (cell !== '' || cells.length > 0) endRecord()
  return { ok: true, records }
}
