// Placeholder; replaced by the stack setup.
export default async function setup() {}
