"""SQS through boto3 against a real node: one JSON line per case.

botocore does not check SQS's MD5s itself; md5_of_attributes below is an
independent implementation of SQS's algorithm that every answer is checked
against.
"""
import hashlib
import os
import struct
import threading
import time

import boto3
from botocore.config import Config

from cases import case, error_code, expect

ENDPOINT = os.environ["LAMBADA_ENDPOINT"]
sqs = boto3.client(
    "sqs", endpoint_url=ENDPOINT, region_name="us-east-1",
    aws_access_key_id="x", aws_secret_access_key="x",
    config=Config(retries={"max_attempts": 1}, read_timeout=60),
)


def md5_of_attributes(attrs):
    h = hashlib.md5()
    for name in sorted(attrs):
        a = attrs[name]
        for b in (name.encode(), a["DataType"].encode()):
            h.update(struct.pack(">I", len(b)) + b)
        if a["DataType"].startswith("Binary"):
            h.update(b"\x02" + struct.pack(">I", len(a["BinaryValue"])) + a["BinaryValue"])
        else:
            v = a["StringValue"].encode()
            h.update(b"\x01" + struct.pack(">I", len(v)) + v)
    return h.hexdigest()


URL = sqs.create_queue(QueueName="boto", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]


def create_is_idempotent_and_conflicts():
    expect(sqs.create_queue(QueueName="boto", Attributes={"VisibilityTimeout": "30"})["QueueUrl"] == URL, "same url")
    code, msg = error_code(sqs.create_queue, QueueName="boto", Attributes={"VisibilityTimeout": "31"})
    expect(code == "QueueAlreadyExists", code)
    expect(msg == "A queue already exists with the same name and a different value for attribute VisibilityTimeout", msg)
    code, msg = error_code(sqs.create_queue, QueueName="x", Attributes={"VisibilityTimeout": "43201"})
    expect(code == "InvalidAttributeValue" and msg == "Invalid value for the parameter VisibilityTimeout.", (code, msg))
    code, _ = error_code(sqs.create_queue, QueueName="bad name")
    expect(code == "InvalidParameterValue", code)


def attributes_round_trip_with_md5s():
    attrs = {
        "s": {"DataType": "String", "StringValue": "héllo"},
        "n": {"DataType": "Number", "StringValue": "42.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "app.id": {"DataType": "String.custom", "StringValue": "x"},
    }
    body = "body ✓"
    sent = sqs.send_message(QueueUrl=URL, MessageBody=body, MessageAttributes=attrs)
    expect(sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest(), sent)
    expect(sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs), sent)
    got = sqs.receive_message(QueueUrl=URL, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"], WaitTimeSeconds=5)["Messages"]
    m = got[0]
    expect(m["Body"] == body and m["MessageId"] == sent["MessageId"], m)
    expect(m["MD5OfBody"] == sent["MD5OfMessageBody"], m)
    expect(m["MessageAttributes"] == attrs, m["MessageAttributes"])
    expect(m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"], m)
    expect(m["Attributes"]["ApproximateReceiveCount"] == "1", m["Attributes"])
    expect(int(m["Attributes"]["SentTimestamp"]) <= int(m["Attributes"]["ApproximateFirstReceiveTimestamp"]), m["Attributes"])
    # Back at once, with only the attributes asked for, and their own MD5.
    sqs.change_message_visibility(QueueUrl=URL, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    m = sqs.receive_message(QueueUrl=URL, MessageAttributeNames=["app.*", "n"], AttributeNames=["ApproximateReceiveCount"], WaitTimeSeconds=5)["Messages"][0]
    some = {k: attrs[k] for k in ("app.id", "n")}
    expect(m["MessageAttributes"] == some and m["MD5OfMessageAttributes"] == md5_of_attributes(some), m)
    expect(m["Attributes"] == {"ApproximateReceiveCount": "2"}, m["Attributes"])
    sqs.delete_message(QueueUrl=URL, ReceiptHandle=m["ReceiptHandle"])


def long_poll_returns_when_a_message_arrives():
    url = sqs.create_queue(QueueName="boto-poll")["QueueUrl"]
    t = threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=url, MessageBody="late"))
    t.start()
    start = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20, MaxNumberOfMessages=10)
    elapsed = time.monotonic() - start
    t.join()
    expect([m["Body"] for m in got["Messages"]] == ["late"], got)
    expect(0.4 < elapsed < 5, elapsed)
    start = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    expect("Messages" not in got and 0.8 < time.monotonic() - start < 5, got)


def visibility_expiry_and_delete():
    url = sqs.create_queue(QueueName="boto-vis", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    expect("Messages" not in sqs.receive_message(QueueUrl=url), "invisible")
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=5)["Messages"][0]
    expect(second["MessageId"] == first["MessageId"], second)
    expect(second["Attributes"]["ApproximateReceiveCount"] == "2", second["Attributes"])
    expect(second["Attributes"]["ApproximateFirstReceiveTimestamp"] == first["Attributes"]["ApproximateFirstReceiveTimestamp"], second["Attributes"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    expect("Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2), "deleted message came back")


def queue_attributes_and_counts():
    url = sqs.create_queue(QueueName="boto-count", Attributes={"DelaySeconds": "0", "MessageRetentionPeriod": "60"})["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url)
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    expect(a["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:boto-count", a)
    expect((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"], a["ApproximateNumberOfMessagesDelayed"]) == ("2", "1", "1"), a)
    expect(a["MessageRetentionPeriod"] == "60" and a["VisibilityTimeout"] == "30", a)
    expect(abs(int(a["CreatedTimestamp"]) - time.time()) < 60, a)
    one = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    expect(one == {"VisibilityTimeout": "30"}, one)
    code, msg = error_code(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["Nope"])
    expect(code == "InvalidAttributeName", code)
    sqs.purge_queue(QueueUrl=url)
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    expect(a == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, a)


def list_get_url_and_delete():
    urls = sqs.list_queues(QueueNamePrefix="boto-")["QueueUrls"]
    expect(sorted(urls) == urls and all("/000000000000/boto-" in u for u in urls) and len(urls) >= 3, urls)
    page = sqs.list_queues(QueueNamePrefix="boto-", MaxResults=1)
    expect(len(page["QueueUrls"]) == 1 and page.get("NextToken"), page)
    url = sqs.create_queue(QueueName="boto-gone")["QueueUrl"]
    expect(sqs.get_queue_url(QueueName="boto-gone")["QueueUrl"] == url, "url")
    sqs.delete_queue(QueueUrl=url)
    for fn, kw in ((sqs.get_queue_url, {"QueueName": "boto-gone"}), (sqs.send_message, {"QueueUrl": url, "MessageBody": "x"})):
        code, msg = error_code(fn, **kw)
        expect(code == "AWS.SimpleQueueService.NonExistentQueue" and msg == "The specified queue does not exist.", (code, msg))


def invalid_parameters():
    for kw, text in (
        ({"MaxNumberOfMessages": 11}, "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."),
        ({"WaitTimeSeconds": 21}, "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."),
        ({"VisibilityTimeout": 43201}, "Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."),
    ):
        code, msg = error_code(sqs.receive_message, QueueUrl=URL, **kw)
        expect(code == "InvalidParameterValue" and msg == text, (code, msg))
    code, msg = error_code(sqs.delete_message, QueueUrl=URL, ReceiptHandle="nope")
    expect(code == "ReceiptHandleIsInvalid" and msg == 'The input receipt handle "nope" is not a valid receipt handle.', (code, msg))
    code, _ = error_code(sqs.change_message_visibility, QueueUrl=URL, ReceiptHandle="nope", VisibilityTimeout=43201)
    expect(code == "InvalidParameterValue", code)


# The cases use queues of their own (or none that another changes): they run
# at once, so that the waits overlap.
threads = [threading.Thread(target=case, args=(c,)) for c in (
    create_is_idempotent_and_conflicts, attributes_round_trip_with_md5s, long_poll_returns_when_a_message_arrives,
    visibility_expiry_and_delete, queue_attributes_and_counts, invalid_parameters)]
for t in threads:
    t.start()
for t in threads:
    t.join()
case(list_get_url_and_delete)  # lists the others' queues
