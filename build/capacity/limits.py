"""What one Lambda function can serve at most: the bounds the planner checks its inputs by.

Lambda's default quota is 1,000 concurrent executions per account and Region, raised on
request to tens of thousands
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The planner
models one function up to ten times the default; beyond that a plan is not what is
missing (the quota, several functions or a queue are). Each execution environment serves
at most 10 requests per second (Lambda scales a function by 1,000 environments or 10,000
requests per second every 10 seconds,
https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html), so at that
concurrency no function takes more than ``MAX_REQUESTS_PER_MINUTE``.
"""

from __future__ import annotations

MAX_CONCURRENCY = 10_000
REQUESTS_PER_SECOND_PER_ENVIRONMENT = 10
MAX_REQUESTS_PER_MINUTE = MAX_CONCURRENCY * REQUESTS_PER_SECOND_PER_ENVIRONMENT * 60
