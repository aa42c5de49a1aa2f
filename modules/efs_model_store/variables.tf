variable "name" {
  description = "Name used for the file system, access point and security groups (letters, digits, '-' and '_')."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits, '-' or '_'."
  }
}

variable "vpc_id" {
  description = "VPC that holds the mount targets and the function."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC id like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Subnets that get a mount target, one per Availability Zone (checked at plan against the subnets' zones). The function may run in these or in other subnets of the same zones and VPC."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "subnet_ids must hold at least one subnet id like subnet-0123456789abcdef0."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key ARN for encryption at rest. null uses the AWS managed key for EFS (the file system is always encrypted)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})$", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be null or a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/<uuid> (or key/mrk-<32 hex> for a multi-Region key)."
  }
}

variable "throughput_mode" {
  description = "EFS throughput mode. \"elastic\" (default) does not run out of burst credits when many cold starts read the model at once; \"bursting\" does."
  type        = string
  default     = "elastic"

  validation {
    condition     = contains(["elastic", "bursting"], var.throughput_mode)
    error_message = "throughput_mode must be \"elastic\" or \"bursting\" (provisioned throughput is not offered by this module)."
  }
}

variable "posix_uid" {
  description = "POSIX user id the function acts as on the file system, and owner of the root directory."
  type        = number
  default     = 1000

  validation {
    condition     = var.posix_uid >= 0 && var.posix_uid <= 4294967295 && floor(var.posix_uid) == var.posix_uid
    error_message = "posix_uid must be a whole number from 0 to 4294967295."
  }
}

variable "posix_gid" {
  description = "POSIX group id the function acts as, and group of the root directory."
  type        = number
  default     = 1000

  validation {
    condition     = var.posix_gid >= 0 && var.posix_gid <= 4294967295 && floor(var.posix_gid) == var.posix_gid
    error_message = "posix_gid must be a whole number from 0 to 4294967295."
  }
}

variable "root_directory" {
  description = "Directory the access point exposes; created on first use, owned by posix_uid:posix_gid."
  type        = string
  default     = "/models"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$", var.root_directory)) && !strcontains(var.root_directory, "..")
    error_message = "root_directory must be an absolute path like /models, without '..' or a trailing '/'."
  }
}

variable "root_directory_permissions" {
  description = "Octal permissions of the root directory when EFS creates it."
  type        = string
  default     = "0755"

  validation {
    condition     = can(regex("^0?[0-7]{3}$", var.root_directory_permissions))
    error_message = "root_directory_permissions must be octal like \"0755\" or \"750\"."
  }
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
