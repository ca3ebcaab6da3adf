/** amqplib's generated protocol definitions, which its type package does not describe. */
declare module 'amqplib/lib/defs.js' {
  const defs: { readonly encodeProperties: unknown };
  export default defs;
}
