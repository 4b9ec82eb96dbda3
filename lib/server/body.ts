/** A request's JSON body, read up to a size limit (a 413 past it, a 400 for bad JSON). */
import type { IncomingMessage } from 'node:http'

import { badRequest, ProblemError } from './problems'

export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit))
  const type = req.headers['content-type']
  // what nearly every client sends, compared before the pattern
  if (type !== undefined && type !== 'application/json' && !/^application\/(.+\+)?json\b/i.test(type)) {
    return Promise.reject(new ProblemError(415, 'ARCFLOW_UNSUPPORTED_MEDIA_TYPE', `the body must be application/json, got ${type}`))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    req.on('data', (chunk: Buffer) => {
      if (failed) return
      size += chunk.length
      if (size > limit) {
        failed = true
        // stop reading: the answer goes out and the connection closes
        req.pause()
        reject(tooLarge(limit))
        return
      }
      chunks.push(chunk)
    })
    req.on('error', (error) => {
      if (!failed) reject(badRequest(`the request body could not be read: ${error.message}`))
      failed = true
    })
    req.on('end', () => {
      if (failed) return
      if (size === 0) return resolve(undefined)
      try {
        // a small body comes in one chunk: no copy
        resolve(JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8')))
      } catch (error) {
        reject(badRequest(`the body is not valid JSON: ${(error as Error).message}`, 'body'))
      }
    })
  })
}

const tooLarge = (limit: number): ProblemError => new ProblemError(413, 'ARCFLOW_TOO_LARGE', `the body is larger than ${limit} bytes`)
