// The dead-letter reasons, in the order the documentation gives them, with what each means.
const reasons = [
  ['not_ready', 'The participant never became visible within the not-ready window.'],
  ['transient', 'Genesys or the lookup store kept failing for the transient max age.'],
  ['auth', 'Genesys kept refusing the client credentials for the transient max age.'],
  ['permission', 'Genesys answered 403: the OAuth client lacks a permission.'],
  ['permanent', 'Genesys refused the request for good (400 validation and the like).'],
  ['bad_data', 'The lookup store holds a record the mapping cannot use.'],
  ['undecodable', 'The stream message is not an event; it can only be deleted.'],
  ['max_deliveries', 'The delivery safety net ran out before a retry class ended.'],
];

export const reasonNames = reasons.map(([r]) => r);

const text = new Map(reasons);

// reasonText says what a reason means.
export function reasonText(r) {
  return text.get(r) || '';
}

// reasonOrder sorts reasons in the documented order, unknown ones last.
export function reasonOrder(list) {
  const rank = (r) => {
    const i = reasonNames.indexOf(r);
    return i < 0 ? reasonNames.length : i;
  };
  return [...list].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
