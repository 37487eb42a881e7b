"""The `azure_openai` backend type: Azure OpenAI deployments, through the OpenAI codec."""
