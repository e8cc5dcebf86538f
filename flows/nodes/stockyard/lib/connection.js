'use strict'
/**
 * The one MQTT connection of this Node-RED runtime to the gateway's broker, shared by every stockyard
 * node and counted by reference: the first node that needs it opens it, the last one to close ends it.
 * It logs in as the gateway's internal Node-RED client (STOCKYARD_MQTT_URL, STOCKYARD_MQTT_USERNAME,
 * STOCKYARD_MQTT_PASSWORD) with a persistent session; mqtt.js reconnects by itself.
 * Every node that holds it shows its state (connected, connecting, disconnected) as the node status.
 */
const mqtt = require('mqtt')

/** @type {ReturnType<typeof open> | null} */
let shared = null

const STATUS = {
  connected: { fill: 'green', shape: 'dot', text: 'connected' },
  connecting: { fill: 'yellow', shape: 'ring', text: 'connecting' },
  disconnected: { fill: 'red', shape: 'ring', text: 'disconnected' },
}

/** `stockyard/v1/{site}`, the root of this gateway's topics. */
function siteRoot() {
  const site = process.env.STOCKYARD_SITE
  if (!site) throw new Error('STOCKYARD_SITE is not set; the gateway sets it for its Node-RED')
  return `stockyard/v1/${site}`
}

/** Whether the topic filter `filter` (with `+` and `#`) matches `topic`. */
function matches(filter, topic) {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false
  }
  return f.length === t.length
}

function open() {
  const url = process.env.STOCKYARD_MQTT_URL
  if (!url) throw new Error('STOCKYARD_MQTT_URL is not set; the gateway sets it for its Node-RED')
  const client = mqtt.connect(url, {
    username: process.env.STOCKYARD_MQTT_USERNAME,
    password: process.env.STOCKYARD_MQTT_PASSWORD,
    // One fixed client id with a persistent session: while Node-RED restarts (a crash, a full deploy),
    // the broker keeps its subscriptions and queues the QoS 1 messages (alerts, scans) for it.
    clientId: process.env.STOCKYARD_MQTT_USERNAME || 'stockyard-node-red',
    clean: false,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    // A refused login (a restarted gateway with new credentials, say) is tried again, not given up.
    reconnectOnConnackError: true,
  })
  const conn = { client, nodes: new Set(), subs: new Set(), status: STATUS.connecting, lastError: '' }
  const show = (status) => {
    conn.status = status
    for (const n of conn.nodes) n.status(status)
  }
  client.on('connect', () => {
    conn.lastError = ''
    show(STATUS.connected)
  })
  client.on('reconnect', () => show(STATUS.connecting))
  client.on('close', () => show(STATUS.disconnected))
  client.on('error', (err) => {
    show({ ...STATUS.disconnected, text: `disconnected: ${err.message}` })
    // Once per distinct error, not at every reconnect attempt.
    if (err.message === conn.lastError) return
    conn.lastError = err.message
    const [first] = conn.nodes
    if (first) first.warn(`MQTT connection to ${url}: ${err.message}`)
  })
  client.on('message', (topic, payload, packet) => {
    for (const sub of conn.subs) if (matches(sub.filter, topic)) deliver(sub, topic, payload, packet)
  })
  return conn
}

/**
 * Hand a message to one subscription. A retained message that this subscription already got (the
 * broker sends retained messages again at each SUBSCRIBE to the filter, also another node's, and
 * after a reconnect) is dropped, so a node sees each retained state once.
 */
function deliver(sub, topic, payload, packet) {
  if (packet.retain) {
    const prev = sub.retained.get(topic)
    if (prev && prev.equals(payload)) return
    sub.retained.set(topic, payload)
  } else {
    sub.retained.delete(topic)
  }
  try {
    sub.onMessage(topic, payload, packet)
  } catch (err) {
    sub.node.error(`handling a message on ${topic} failed: ${err.message}`)
  }
}

/**
 * Take a reference to the shared connection for `node`; call `release()` when the node closes.
 * Throws when the environment lacks the connection settings.
 * @example
 *   const conn = acquire(node)
 *   conn.subscribe(`${siteRoot()}/+/scan`, (topic, payload, packet) => node.send({ topic, payload: JSON.parse(payload) }))
 *   node.on('close', (done) => conn.release().then(done))
 */
function acquire(node) {
  if (!shared) shared = open()
  const conn = shared
  conn.nodes.add(node)
  node.status(conn.status)
  const mine = []
  return {
    /** Subscribe to `filter` at QoS 1; `onMessage(topic, payload: Buffer, packet)` gets each message. */
    subscribe(filter, onMessage) {
      const sub = { filter, onMessage, node, retained: new Map() }
      conn.subs.add(sub)
      mine.push(sub)
      // `resubscribe` makes mqtt.js send the SUBSCRIBE even when another node has the same filter:
      // only a SUBSCRIBE makes the broker send the retained messages [MQTT-3.3.1-6].
      conn.client.subscribe({ [filter]: { qos: 1 }, resubscribe: true }, (err) => {
        // A SUBACK of 0x80 is a refusal by the broker's ACL [MQTT-3.9.3].
        if (err) node.error(`could not subscribe to ${filter}: ${err.code === 0x80 ? 'the broker refused it, this client may not read it' : err.message}`)
      })
    },
    /** Publish; `done(err?)` is called once the broker has the message (QoS 1: its PUBACK). */
    publish(topic, payload, opts, done) {
      conn.client.publish(topic, payload, opts, done)
    },
    /** Drop this node's subscriptions and its reference; the last reference ends the connection. */
    release() {
      conn.nodes.delete(node)
      for (const sub of mine) {
        conn.subs.delete(sub)
        if (![...conn.subs].some((s) => s.filter === sub.filter)) conn.client.unsubscribe(sub.filter)
      }
      mine.length = 0
      if (conn.nodes.size > 0) return Promise.resolve()
      if (shared === conn) shared = null
      return new Promise((resolve) => conn.client.end(false, {}, () => resolve()))
    },
  }
}

/**
 * Subscribe `node` to `filter` (relative to the site root) on the shared connection and release it
 * when the node closes; returns false, with the node's status and an error, when the gateway has not
 * set the connection up (no STOCKYARD_* environment).
 */
function listen(node, filter, onMessage) {
  let conn
  try {
    const full = `${siteRoot()}/${filter}`
    conn = acquire(node)
    conn.subscribe(full, onMessage)
  } catch (err) {
    node.status({ fill: 'red', shape: 'ring', text: 'not configured' })
    node.error(err.message)
    return false
  }
  node.on('close', (done) => {
    conn.release().then(() => done())
  })
  return true
}

module.exports = { acquire, listen, siteRoot, matches }
