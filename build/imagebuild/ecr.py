"""ECR: the account from STS, the repository check, and push credentials.

boto3 honours ``AWS_ENDPOINT_URL`` (and the per-service variants), which is how the
tests point it at a local AWS API server.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.parsers

from imagebuild.errors import AwsError, RepositoryNotFoundError
from imagebuild.settings import EnvironmentSettings


@dataclass(frozen=True)
class EcrTarget:
    account_id: str
    region: str
    registry: str  # host name of the registry, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com
    repository: str
    username: str
    password: str


def ecr_target(settings: EnvironmentSettings) -> EcrTarget:
    """Resolve the environment's repository and log in to its registry."""
    region = settings.aws_region
    try:
        account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        ecr = boto3.client("ecr", region_name=region)
        try:
            ecr.describe_repositories(
                registryId=account, repositoryNames=[settings.ecr_repository_name]
            )
        except ecr.exceptions.RepositoryNotFoundException:
            raise RepositoryNotFoundError(
                f"ECR repository {settings.ecr_repository_name!r} does not exist in account "
                f"{account}, region {region}. It is created by Terraform: run "
                f"`{settings.ecr_create_hint()}` first, then push again."
            ) from None
        auth = ecr.get_authorization_token(registryIds=[account])["authorizationData"][0]
    except botocore.exceptions.NoCredentialsError as exc:
        raise AwsError(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY for the account that owns the environment"
        ) from exc
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(
            f"AWS refused {exc.operation_name} in {region}: "
            f"{error.get('Code', '?')}: {error.get('Message', '')}"
        ) from exc
    except botocore.exceptions.EndpointConnectionError as exc:
        raise AwsError(f"cannot reach AWS in {region}: {exc}") from exc
    except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError) as exc:
        # Profiles, SSO, TLS, or an endpoint that is not an AWS API at all.
        raise AwsError(f"AWS call failed in {region}: {exc}") from exc
    username, _, password = base64.b64decode(auth["authorizationToken"]).decode().partition(":")
    registry = urlsplit(auth["proxyEndpoint"]).netloc or auth["proxyEndpoint"]
    return EcrTarget(account, region, registry, settings.ecr_repository_name, username, password)
