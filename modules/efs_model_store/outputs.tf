output "file_system_id" {
  description = "Id of the file system."
  value       = aws_efs_file_system.this.id
}

output "file_system_arn" {
  description = "ARN of the file system (the resource of the function's elasticfilesystem:ClientMount permission)."
  value       = aws_efs_file_system.this.arn
}

output "access_point_arn" {
  description = "ARN of the access point to mount. Available only once the mount targets exist, so a function that uses it is created after them."
  value       = aws_efs_access_point.this.arn
  depends_on  = [aws_efs_mount_target.this]
}

output "access_point_id" {
  description = "Id of the access point."
  value       = aws_efs_access_point.this.id
}

output "function_security_group_id" {
  description = "Security group to attach to the function: it is the only source allowed to reach the mount targets."
  value       = aws_security_group.function.id
}

output "mount_target_security_group_id" {
  description = "Security group of the mount targets."
  value       = aws_security_group.mount_target.id
}

output "mount_target_ids" {
  description = "Mount target ids by subnet id."
  value       = { for s, mt in aws_efs_mount_target.this : s => mt.id }
}
