"""What the agent calls: the MIMO-UNet restoration tool and the knowledge search tool."""
