// An extension module for CONCORD_EXTENSIONS (docs/extensions.md): one custom strategy and one spec for
// `custom_match`. Plain JavaScript with no imports, so it loads from any folder beside a deployment.

/** Per overlapping field, the longer text wins (a tie keeps what is stored). */
const longestText = {
  name: 'longest_text',
  aliases: ['longest'],
  description: 'per field, the longer text wins; a tie keeps the stored value',
  compile(options, ctx) {
    for (const key of Object.keys(options ?? {})) ctx.unknownOption(`.${key}`, `unknown option "${key}"`);
    return {
      name: 'longest_text',
      resolve(conflict) {
        const fields = {};
        const choices = [];
        for (const field of conflict.overlappingFields) {
          const stored = conflict.local[field]?.value;
          const incoming = conflict.event.data[field];
          const length = (value) => (typeof value === 'string' ? value.length : -1);
          const remote = length(incoming) > length(stored);
          fields[field] = remote ? incoming : stored;
          choices.push({
            field,
            source: remote ? 'remote' : 'local',
            value: fields[field],
            reason: remote ? 'the incoming text is longer' : 'the stored text is as long or longer',
          });
        }
        return { decision: 'resolved', strategy: 'longest_text', fields, choices, reasons: [] };
      },
    };
  },
};

export default {
  strategies: [longestText],
  specs: {
    /** `custom_match: { metadata_equals: "source=erp" }`: the incoming event's metadata holds that value. */
    metadata_equals(argument) {
      const [key, value] = argument.split('=', 2);
      return (conflict) => conflict !== undefined && String(conflict.event.metadata?.[key]) === value;
    },
  },
};
