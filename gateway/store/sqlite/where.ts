/**
 * Build `WHERE a = ? AND b = ? …` from the defined entries of a filter, plus optional extra clauses
 * with their argument. Column names and clauses come from our code, never from input.
 */
export function whereEquals(
  filter: Record<string, string | number | undefined>,
  extra: Array<[clause: string, arg: string | number]> = [],
): { sql: string; args: Array<string | number> } {
  const clauses: string[] = []
  const args: Array<string | number> = []
  for (const [column, value] of Object.entries(filter)) {
    if (value === undefined) continue
    clauses.push(`${column} = ?`)
    args.push(value)
  }
  for (const [clause, arg] of extra) {
    clauses.push(clause)
    args.push(arg)
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', args }
}
