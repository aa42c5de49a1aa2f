resource "aws_efs_file_system" "this" {
  creation_token   = var.name
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = var.throughput_mode

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_efs_backup_policy" "this" {
  file_system_id = aws_efs_file_system.this.id

  backup_policy {
    # The store holds a copy of a build artefact that can be rebuilt and re-uploaded.
    status = "DISABLED"
  }
}

resource "aws_efs_access_point" "this" {
  file_system_id = aws_efs_file_system.this.id

  posix_user {
    uid = var.posix_uid
    gid = var.posix_gid
  }

  root_directory {
    path = var.root_directory

    # EFS creates the directory with this owner the first time a client mounts it.
    creation_info {
      owner_uid   = var.posix_uid
      owner_gid   = var.posix_gid
      permissions = var.root_directory_permissions
    }
  }

  tags = merge(var.tags, { Name = var.name })
}

# Only TLS, and only through the access point.
data "aws_iam_policy_document" "file_system" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["*"]
    resources = [aws_efs_file_system.this.arn]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyMountOutsideAccessPoint"
    effect    = "Deny"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
    resources = [aws_efs_file_system.this.arn]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.this.arn]
    }
  }
}

resource "aws_efs_file_system_policy" "this" {
  file_system_id = aws_efs_file_system.this.id
  policy         = data.aws_iam_policy_document.file_system.json
}

resource "aws_security_group" "function" {
  #checkov:skip=CKV2_AWS_5:Attached by the caller to the Lambda function's vpc_config (the ml_inference module does), outside this module.
  name        = "${var.name}-function"
  description = "Lambda function that mounts ${var.name}: NFS to the mount targets, HTTPS out"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-function" })
}

resource "aws_security_group" "mount_target" {
  name        = "${var.name}-mount-target"
  description = "EFS mount targets of ${var.name}: NFS only from the function security group"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-mount-target" })
}

resource "aws_vpc_security_group_ingress_rule" "nfs_from_function" {
  security_group_id            = aws_security_group.mount_target.id
  description                  = "NFS from the function"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.function.id
}

resource "aws_vpc_security_group_egress_rule" "function_nfs" {
  security_group_id            = aws_security_group.function.id
  description                  = "NFS to the EFS mount targets"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.mount_target.id
}

resource "aws_vpc_security_group_egress_rule" "function_https" {
  security_group_id = aws_security_group.function.id
  description       = "HTTPS to AWS APIs (S3, CloudWatch) through NAT or VPC endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# EFS allows one mount target per Availability Zone: a second subnet of the same zone
# fails at apply (https://docs.aws.amazon.com/efs/latest/ug/manage-fs-access-create-delete-mount-targets.html).
# The subnets are looked up so the plan can say so first.
data "aws_subnet" "mount_target" {
  for_each = toset(var.subnet_ids)

  id = each.value
}

locals {
  mount_target_zones = { for id, subnet in data.aws_subnet.mount_target : id => subnet.availability_zone }
  zones_with_several = [
    for zone in distinct(values(local.mount_target_zones)) : zone
    if length([for z in values(local.mount_target_zones) : z if z == zone]) > 1
  ]
}

resource "aws_efs_mount_target" "this" {
  for_each = toset(var.subnet_ids)

  file_system_id  = aws_efs_file_system.this.id
  subnet_id       = each.value
  security_groups = [aws_security_group.mount_target.id]

  lifecycle {
    precondition {
      condition     = length(local.zones_with_several) == 0
      error_message = "subnet_ids must be in distinct Availability Zones: EFS allows one mount target per zone, and ${join(", ", [for zone in local.zones_with_several : "${zone} has ${join(" and ", [for id, z in local.mount_target_zones : id if z == zone])}"])}. Keep one subnet per zone here; the function may still run in more subnets (ml_inference efs.function_subnet_ids)."
    }
  }
}
