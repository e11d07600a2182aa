"""What the S3 seeding scripts share: a boto3 client for the server under test, and
deterministic bytes."""

import hashlib

import boto3
from botocore.config import Config


def client(endpoint):
    """A path-style client with the credentials of the environment, patient with the server."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 10}, max_pool_connections=32),
    )


def body(seed, size):
    """Deterministic bytes that do not compress to nothing."""
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])
