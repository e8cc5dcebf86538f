/** `stockyard tokens add|import|list|revoke` — HTTP bearer tokens with roles; the token is printed once. */
import { StockyardError } from '../core/errors.ts'
import { ROLES, type Role } from '../store/types.ts'
import { parseFlags, printJson, requireFlag } from './args.ts'
import { withStore } from './store.ts'

const flags = { data: { type: 'string' }, config: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' } } as const

export async function runTokens(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  const { values } = parseFlags(rest, flags)
  await withStore(values.data, values.config, async (store) => {
    switch (sub) {
      case 'add': {
        const role = requireFlag(values, 'role')
        if (!ROLES.includes(role as Role)) throw new StockyardError('request.invalid', `--role must be one of ${ROLES.join(', ')}`)
        return printJson(store.tokens.add(role as Role, values.name ?? ''))
      }
      case 'import': {
        // The token comes on stdin, not as an argument: arguments are visible to every user in `ps`.
        const role = requireFlag(values, 'role')
        if (!ROLES.includes(role as Role)) throw new StockyardError('request.invalid', `--role must be one of ${ROLES.join(', ')}`)
        const token = (await readStdin()).trim()
        return printJson(store.tokens.import(token, role as Role, values.name ?? ''))
      }
      case 'list':
        return printJson(store.tokens.list())
      case 'revoke': {
        const id = requireFlag(values, 'id')
        if (!store.tokens.revoke(id)) throw new StockyardError('not_found', `no token ${id}`)
        return printJson({ id, revoked: true })
      }
      default:
        throw new StockyardError('request.invalid', 'usage: stockyard tokens add --role viewer|hq|admin [--name N] | list | revoke --id ID [--data DIR]')
    }
  })
}

async function readStdin(): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) text += String(chunk)
  return text
}
