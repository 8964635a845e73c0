# A Python function written for AWS Lambda, unchanged: runtime python3.X,
# handler app.handler. It greets the event's name, logs with the logging
# module (Lambda's format: [LEVEL], time, request id) and reports how much
# time its invocation has left.
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    name = event.get("name", "world")
    logger.info("greeting %s", name)
    return {
        "greeting": f"Hello, {name}!",
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
    }
