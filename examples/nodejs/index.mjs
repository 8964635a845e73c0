// A Node.js function written for AWS Lambda, unchanged: runtime nodejs20.x
// (an ES module), handler index.handler. It greets the event's name and
// logs with console.log (Lambda's format: time, request id, level).
export const handler = async (event, context) => {
  const name = event.name ?? 'world';
  console.log(`greeting ${name}`);
  return {
    greeting: `Hello, ${name}!`,
    requestId: context.awsRequestId,
    remainingMs: context.getRemainingTimeInMillis(),
  };
};
