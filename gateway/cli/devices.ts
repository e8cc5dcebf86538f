/** `stockyard devices add|list|disable|enable|rotate` — works with or without the gateway running. */
import { StockyardError } from '../core/errors.ts'
import { DEVICE_KINDS, type DeviceKind } from '../store/types.ts'
import { parseFlags, printJson, requireFlag } from './args.ts'
import { withStore } from './store.ts'

const flags = {
  data: { type: 'string' },
  config: { type: 'string' },
  id: { type: 'string' },
  kind: { type: 'string' },
  site: { type: 'string' },
  zone: { type: 'string' },
} as const

export async function runDevices(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  const { values } = parseFlags(rest, flags)
  await withStore(values.data, values.config, async (store) => {
    switch (sub) {
      case 'add': {
        const kind = requireFlag(values, 'kind')
        if (!DEVICE_KINDS.includes(kind as DeviceKind)) throw new StockyardError('request.invalid', `--kind must be one of ${DEVICE_KINDS.join(', ')}`)
        const creds = await store.devices.add({
          id: requireFlag(values, 'id'),
          kind: kind as DeviceKind,
          site: requireFlag(values, 'site'),
          zone: requireFlag(values, 'zone'),
        })
        return printJson(creds)
      }
      case 'list':
        return printJson(store.devices.list())
      case 'disable':
        store.devices.disable(requireFlag(values, 'id'))
        return printJson({ id: values.id, disabled: true })
      case 'enable':
        store.devices.enable(requireFlag(values, 'id'))
        return printJson({ id: values.id, disabled: false })
      case 'rotate':
        return printJson(await store.devices.rotate(requireFlag(values, 'id')))
      default:
        throw new StockyardError('request.invalid', `usage: stockyard devices add|list|disable|enable|rotate [--data DIR] …`)
    }
  })
}
