/**
 * `arcflow/server`: start, watch and cancel runs over HTTP, Server-Sent
 * Events and WebSocket, as a server of its own or mounted in a service.
 *
 * @example
 * import { Engine } from 'arcflow'
 * import { createServer } from 'arcflow/server'
 * const engine = new Engine({ store: 'sqlite:./arcflow.db', builtins: true })
 * const wf = engine.load('./flows/hello.yaml')
 * const { url } = await createServer({ engine, workflows: [wf], tokens: [process.env.ARCFLOW_TOKEN!] }).listen()
 */
export { createServer } from './server'
export type { ArcflowServer, ServerOptions } from './server'
export { createHandler } from './handler'
export type { Handler, HandlerOptions } from './handler'
export { readTokenFile, parseTokenList, isLoopback } from './auth'
export type { Problem } from './problems'
export type { RunEnd } from './run-end'
export type { StartRequest } from './start-request'
export { ServerError } from '../errors'
