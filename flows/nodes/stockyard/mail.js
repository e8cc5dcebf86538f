'use strict'
/**
 * stockyard mail: send msg.payload (text) with subject msg.topic as e-mail through the SMTP server of
 * the environment (SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_FROM), to the configured
 * recipients or msg.to. Without SMTP_HOST or recipients the node is off: messages are dropped quietly.
 * Needs the package `nodemailer`, loaded at the first message so the other nodes load without it.
 */

module.exports = function (RED) {
  function StockyardMail(config) {
    RED.nodes.createNode(this, config)
    const node = this
    const host = process.env.SMTP_HOST || ''
    const port = Number(process.env.SMTP_PORT || 587)
    // `to` may be `${ALERT_EMAIL_TO}`: Node-RED has put the value in by now; an unset variable stays as written.
    const configuredTo = /^\$\{\w+\}$/.test(config.to || '') ? '' : config.to || ''
    let transport = null
    node.status(host ? {} : { fill: 'grey', shape: 'ring', text: 'off: no SMTP_HOST' })

    function transportOf() {
      if (transport) return transport
      const nodemailer = require('nodemailer')
      const user = process.env.SMTP_USER || ''
      transport = nodemailer.createTransport({
        host,
        port,
        // 465 is SMTP over TLS; other ports (587, 25) upgrade with STARTTLS when the server offers it.
        secure: port === 465,
        auth: user ? { user, pass: process.env.SMTP_PASSWORD || '' } : undefined,
        connectionTimeout: 15_000,
      })
      return transport
    }

    node.on('input', (msg, send, done) => {
      const to = msg.to || configuredTo
      if (!host || !to) {
        done()
        return
      }
      let t
      try {
        t = transportOf()
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: 'nodemailer missing' })
        done(new Error(`cannot load nodemailer (${err.message}); install it beside node-red`))
        return
      }
      const text = typeof msg.payload === 'string' ? msg.payload : JSON.stringify(msg.payload, null, 2)
      t.sendMail({ from: process.env.SMTP_FROM || process.env.SMTP_USER || undefined, to, subject: String(msg.topic || 'Stockyard'), text }).then(
        () => {
          node.status({ fill: 'green', shape: 'dot', text: `sent ${new Date().toISOString().slice(11, 19)}` })
          send(msg)
          done()
        },
        (err) => {
          node.status({ fill: 'red', shape: 'ring', text: 'send failed' })
          done(new Error(`e-mail to ${to} via ${host}:${port}: ${err.message}`))
        },
      )
    })

    node.on('close', () => {
      if (transport) transport.close()
    })
  }
  RED.nodes.registerType('stockyard-mail', StockyardMail)
}
