/** The device registry, read-only: identity, placement, status and health of every device. */
import type { Device } from '../store/types.ts'
import type { Route } from './route.ts'

/** The public view of a device; credentials (username, password hash) never leave the registry. */
export function publicDevice(d: Device) {
  return {
    id: d.id,
    kind: d.kind,
    site: d.site,
    zone: d.zone,
    status: d.status,
    lastSeen: d.lastSeen,
    battery: d.battery,
    firmware: d.firmware,
    disabled: d.disabled,
  }
}

export const deviceRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/devices',
    access: 'viewer',
    handle: (c, deps) => c.json({ devices: deps.devices.list().map(publicDevice) }),
  },
]
