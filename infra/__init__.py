"""Infrastructure as code for a real AWS account: the CloudFormation template and its tooling."""
