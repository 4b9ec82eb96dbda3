// The actions of examples/flows/hello.yaml, for the command line:
//   arcflow run examples/flows/hello.yaml --actions examples/hello-actions.mjs --input '{"names":["Ada","Grace","Linus"]}'
let flaky = true

export default {
  greet: async ({ name, position }, ctx) => {
    // the first call for Grace fails once, to show a retry
    if (flaky && name === 'Grace') {
      flaky = false
      throw new Error('transient failure')
    }
    ctx.log(`greeting ${name}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
    return `${position}. hello ${name}`
  },
  shout: async ({ lines }) => lines.map((line) => line.toUpperCase()),
  count: async ({ n }) => `${n} greeted`,
  report: async ({ loud, total }) => `${loud.join('; ')} (${total})`,
}
